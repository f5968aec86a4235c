"""RQ jobs (chart exports). Never imports the Dash app; the web side enqueues by dotted name."""
