"""objstream"""
