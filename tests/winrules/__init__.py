"""Tests of pytest_ocirace.winrules."""
