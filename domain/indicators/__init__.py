"""Indicators: facts, periods, baselines, targets, rules and scorecards."""
