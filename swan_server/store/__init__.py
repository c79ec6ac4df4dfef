from swan_server.store.abstract import TrackingStore

__all__ = ["TrackingStore"]
