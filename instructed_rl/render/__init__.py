"""Ways to show a world to a person: a coloured terminal grid (works over SSH)."""
