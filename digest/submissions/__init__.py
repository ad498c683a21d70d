"""What a cluster organisation that submitted an item hears back: its status page and emails."""
