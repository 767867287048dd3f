"""Granting an approved request in every integration and delivering the credentials."""
