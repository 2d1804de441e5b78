"""The wire contract between sealrun's processes.

Everything two processes must agree on lives here, once: the codecs of identifiers
(:mod:`.ids`: task id, deal id, order hash, address; :mod:`.fields`: the same as pydantic
field types), the blob URL grammar (:mod:`.blobs`) and the order codec (:mod:`.orders`);
one module per service (:mod:`.store`, :mod:`.sms`, :mod:`.market`, :mod:`.scheduler`) with
its pydantic request/response models and its route paths, and :mod:`.signing`, the
signed-request headers. The services declare their routes with these models and the
clients of :mod:`sealrun.adapters.http` return them, so both ends read one definition.
The package sits between the adapters and the core: it may import the core, the error
tree and pure libraries, never an HTTP stack, a web framework or a database.

Import the modules themselves; this package re-exports nothing, so importing one codec
never loads another's dependencies (the enclave imports :mod:`.ids` without pydantic).
"""
