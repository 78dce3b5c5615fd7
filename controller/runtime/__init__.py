"""The runtime host: inbound handling (engine + one store transaction), outbox dispatcher, timers."""
