"""The stdio bridge an AI host launches: one connector (a server and an account) over MCP, tokens kept here."""
