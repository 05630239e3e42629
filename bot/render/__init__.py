"""bot/ renders for Slack: typed facts and effect payloads become text, once per surface, in a Language."""
