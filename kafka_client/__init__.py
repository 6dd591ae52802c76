"""objstream's producing side: librdkafka configuration and a publisher that loses nothing."""
