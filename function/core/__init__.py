"""function/core"""
