"""The RQ worker process (`python -m jobs.worker`). The jobs it runs live with their feature
(`dashboard.exports.job`); it never imports the Dash app, the page or the API."""
