"""Objectives, key results and check-ins."""
