"""Everything that talks to Slack: the Bolt app, its listeners, Block Kit rendering, posting and
uploading, the HTTP server and the manifest. Nothing outside this package imports Slack."""
