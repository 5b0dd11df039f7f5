"""Sample articles newsbot ships and adds to an empty library on the first ask (NEWSBOT_SEED_DIR)."""
