"""The benchmark harness: a synthetic population, its bulk load and (later) the load generator.

Speed and memory claims about studyhub come only from here.
"""
