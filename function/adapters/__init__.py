"""function/adapters"""
