"""objstream/cli"""
