"""The ordering service: one total order of transactions per channel, cut into signed blocks."""
