"""What the tests share: served test models, photos and in-process references, service and server helpers."""
