"""Evaluation: information-theory and text metrics, harnesses, tasks and statistics (§4, §6, §15, §20)."""
