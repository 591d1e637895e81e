"""The domain rules. Services take what they need as arguments and never read the request."""
