"""TLS towards a source: the CA bundle to trust and, for mutual TLS, the gateway's client certificate.

The BRP is reached over Diginetwerk with a PKIoverheid client certificate; other sources may sit behind a
private CA. Options of a ``[sources.<name>]`` table: ``ca_bundle`` (PEM file), ``client_cert`` and
``client_key`` (PEM files; the key may be in the certificate file), ``client_key_password`` (or
``client_key_password_file``). The context is built once per source at start-up.
"""

from __future__ import annotations

import ssl

from graph.config import ConfigError, SourceConfig


def tls_for(config: SourceConfig) -> ssl.SSLContext | bool:
    """``True`` (the system's trust store, certificates checked) unless the source needs more."""
    ca, cert = config.option("ca_bundle"), config.option("client_cert")
    if not ca and not cert:
        return True
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        if cert:
            key, password = config.option("client_key"), config.option("client_key_password")
            context.load_cert_chain(str(cert), str(key) if key else None, str(password) if password else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[sources.{config.name}] TLS files cannot be used: {type(exc).__name__}") from None
    return context
