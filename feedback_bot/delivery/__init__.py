"""Getting words in and out: inbox, outbox, dispatcher, pacing, platform cursors."""
