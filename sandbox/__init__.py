"""The sandbox: a loopback stand-in for Slack (`slackfake`), the local workspace that drives the real bot
against it (`local`) and the demo (`demo`, run by `scripts/demo`). For the demo, the tests and the benchmarks
only: the product (bot, forms, workflow, storage, pdf) never imports it, and its wheel does not ship it."""
