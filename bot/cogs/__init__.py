"""One Cog per feature: asking, adding, listing/removing articles, stats and vote buttons."""
