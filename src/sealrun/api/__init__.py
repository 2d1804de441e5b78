"""The wire contract: every body, route and header that crosses a process boundary.

One module per service (:mod:`.store`, :mod:`.sms`, :mod:`.market`, :mod:`.scheduler`)
holds its pydantic request/response models and its route paths; :mod:`.signing` holds the
signed-request headers. The services declare their routes with these models and the
clients of :mod:`sealrun.adapters.http` return them, so both ends read one definition.
Nothing here imports a web framework.
"""
