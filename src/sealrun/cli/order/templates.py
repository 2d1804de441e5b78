"""``sealrun order init`` and ``order sign``: order templates in ``orders.json``, signed
(EIP-712) into ``signed-orders.json`` (:mod:`sealrun.requester.orderfiles`). Edit the templates
(prices, volume, tag, restrictions, params), then ``order sign``.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import typer

from sealrun.cli.order.group import APP, DATASET, WORKERPOOL, order_app, parse_tag, selected_kinds
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    Session,
    parse_address,
)
from sealrun.core.orders import (
    ZERO_ADDRESS,
    AppOrder,
    DatasetOrder,
    Order,
    RequestOrder,
    WorkerpoolOrder,
    order_to_json,
)
from sealrun.core.orders.numbers import check_request_trust, parse_uint
from sealrun.errors import UsageError
from sealrun.requester.orderfiles import KINDS, load_kind, order_files, read_orders_file, write_orders_file
from sealrun.requester.params import check_request_params

__all__ = ["init", "sign"]


@order_app.command("init")
def init(
    app: str | None = APP,
    dataset: str | None = DATASET,
    workerpool: str | None = WORKERPOOL,
    buy: bool = typer.Option(False, "--buy", help="A request order (to buy tasks of --app)."),
    price: str = typer.Option(
        "0", help="Price per task (smallest unit); for --buy, the maximum workerpool price."
    ),
    volume: str = typer.Option("1", help="How many tasks the order offers or asks for."),
    category: str = typer.Option("0", help="Category (workerpool and request orders)."),
    tag: str = typer.Option("tee", help="Tag bits, comma-separated: tee, sgx, tdx, sev-snp, nitro, gpu."),
    params: str = typer.Option(
        "",
        help='Request params, a JSON object: {"iexec_args": "...", "iexec_input_files": ["https://..."], '
        '"iexec_secrets": {"1": "name"}}.',
    ),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Write order templates into orders.json (edit them, then `order sign`)."""
    out = Output(json_out)
    # Numbers are read as ASCII digits (click's int() takes "٣" and tracebacks past 4300 digits).
    price_value = parse_uint(price, name="--price")
    volume_value = parse_uint(volume, name="--volume")
    category_value = parse_uint(category, name="--category")
    check_request_params(params)
    session = Session.load(config, chain, wallet)
    templates_path, _ = order_files(session.config.path.parent)
    tag_bytes = parse_tag(tag)
    made: dict[str, Order] = {}
    if buy:
        if app is None:
            raise UsageError("--buy needs --app (the app to run)", code="USAGE")
        requester = session.wallet_address()
        made["request"] = RequestOrder(
            app=parse_address(app, "--app"),
            appmaxprice=0,
            dataset=parse_address(dataset, "--dataset") if dataset else ZERO_ADDRESS,
            datasetmaxprice=0,
            workerpool=parse_address(workerpool, "--workerpool") if workerpool else ZERO_ADDRESS,
            workerpoolmaxprice=price_value,
            requester=requester,
            volume=volume_value,
            tag=tag_bytes,
            category=category_value,
            beneficiary=requester,
            params=params,
        )
    else:
        if app is not None:
            made["app"] = AppOrder(
                app=parse_address(app, "--app"), appprice=price_value, volume=volume_value, tag=tag_bytes
            )
        if dataset is not None:
            made["dataset"] = DatasetOrder(
                dataset=parse_address(dataset, "--dataset"),
                datasetprice=price_value,
                volume=volume_value,
                tag=tag_bytes,
            )
        if workerpool is not None:
            made["workerpool"] = WorkerpoolOrder(
                workerpool=parse_address(workerpool, "--workerpool"),
                workerpoolprice=price_value,
                volume=volume_value,
                tag=tag_bytes,
                category=category_value,
            )
    if not made:
        raise UsageError("say which order to create: --app, --dataset, --workerpool or --buy", code="USAGE")
    data = read_orders_file(templates_path)
    data.update({KINDS[kind]: order_to_json(order) for kind, order in made.items()})
    write_orders_file(templates_path, data)
    out.result({"file": str(templates_path), "orders": {KINDS[k]: order_to_json(o) for k, o in made.items()}})


@order_app.command("sign")
def sign(
    app: bool = typer.Option(False, "--app"),
    dataset: bool = typer.Option(False, "--dataset"),
    workerpool: bool = typer.Option(False, "--workerpool"),
    request: bool = typer.Option(False, "--request"),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Sign templates of orders.json (EIP-712) into signed-orders.json; a zero salt gets a random one."""
    out = Output(json_out)
    session = Session.load(config, chain, wallet, password_file)
    templates_path, signed_path = order_files(session.config.path.parent)
    templates = read_orders_file(templates_path)
    kinds = selected_kinds(app, dataset, workerpool, request)
    orders = [load_kind(templates, kind, templates_path) for kind in kinds]
    for template in orders:
        if isinstance(template, RequestOrder):
            # A hand-edited template is checked like `order init`'s options, before signing.
            check_request_trust(template)
            check_request_params(template.params)
    market = session.market(wallet=True)
    signed = read_orders_file(signed_path)
    result = {}
    for kind, template in zip(kinds, orders, strict=True):
        salted = replace(template, salt=secrets.token_bytes(32)) if template.salt == bytes(32) else template
        done = market.sign(salted)
        signed[KINDS[kind]] = order_to_json(done)
        result[KINDS[kind]] = {"hash": market.order_hash(done), "signer": market.address}
    write_orders_file(signed_path, signed)
    out.result({"file": str(signed_path), "signed": result})
