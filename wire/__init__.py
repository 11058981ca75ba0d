"""The wire contract shared by stations and the county: messages, topics, command arguments,
the signed command form and the canonical signing bytes.

Both sides import it; it imports only the ground floor (`foundation`) and its libraries.
"""
