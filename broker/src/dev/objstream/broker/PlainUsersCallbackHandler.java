package dev.objstream.broker;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.plain.PlainAuthenticateCallback;

/**
 * SASL/PLAIN users read from a properties file, for the test broker.
 *
 * <p>Kafka's built-in PLAIN users live in the JAAS option names (user_NAME="password"), whose
 * parser stops at '/', so it cannot hold OCI Streaming's user names
 * (tenancy/user/ocid1.streampool...). This handler reads "user name = password" lines from the
 * file named by the JAAS option users_file, again on every login, so a test can rotate a
 * password (an auth token) while the broker runs.
 */
public final class PlainUsersCallbackHandler implements AuthenticateCallbackHandler {
  private Path usersFile;

  @Override
  public void configure(
      Map<String, ?> configs, String saslMechanism, List<AppConfigurationEntry> jaasEntries) {
    for (AppConfigurationEntry entry : jaasEntries) {
      Object file = entry.getOptions().get("users_file");
      if (file != null) {
        usersFile = Path.of(file.toString());
        return;
      }
    }
    throw new KafkaException("PlainUsersCallbackHandler needs the JAAS option users_file");
  }

  @Override
  public void handle(Callback[] callbacks) throws IOException, UnsupportedCallbackException {
    String username = null;
    for (Callback callback : callbacks) {
      if (callback instanceof NameCallback nameCallback) {
        username = nameCallback.getDefaultName();
      } else if (callback instanceof PlainAuthenticateCallback plainCallback) {
        plainCallback.authenticated(matches(username, new String(plainCallback.password())));
      } else {
        throw new UnsupportedCallbackException(callback);
      }
    }
  }

  private boolean matches(String username, String password) throws IOException {
    if (username == null) {
      return false;
    }
    Properties users = new Properties();
    try (InputStream in = Files.newInputStream(usersFile)) {
      users.load(in);
    }
    String expected = users.getProperty(username);
    return expected != null
        && MessageDigest.isEqual(
            expected.getBytes(StandardCharsets.UTF_8), password.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {}
}
