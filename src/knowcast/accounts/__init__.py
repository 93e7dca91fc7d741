"""Accounts: users, roles, passwords, sign-in sessions."""
