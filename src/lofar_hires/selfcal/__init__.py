"""Self-calibration: strategies as data, one engine, metrics and the stopping rule.

Each cycle images, predicts, solves (DP3 DDECal), resets station groups, merges and applies.
"""
