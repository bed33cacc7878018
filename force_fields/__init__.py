"""The force fields of hese, installed as package data (hese.force_fields): see README.md here."""
