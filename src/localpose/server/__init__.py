"""The web service and WebUI (`localpose serve`): FastAPI routes over the library."""

from localpose.server.options import ServerOptions

__all__ = ["ServerOptions", "create_app"]


def create_app(options: ServerOptions, model):
    """The FastAPI application (imported lazily: FastAPI loads only when serving)."""
    from localpose.server.app import create_app as build

    return build(options, model)
