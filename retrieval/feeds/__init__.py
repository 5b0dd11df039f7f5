"""Feeds a library follows: RSS and Atom subscriptions polled on a schedule, their new entries
ingested as articles (``FeedService``; the state in ``FeedStore``, one poll in ``FeedPoller``)."""
