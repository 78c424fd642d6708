"""NDIF's API end to end: the gateway and a model replica on a local Ray Serve, driven by nnsight
0.8.1's own client (no Hub: the backend is given the model key, as the README tells users)."""

import json
import time

import httpx
import pytest
import torch

from remote_client import client_model, key_of, local_model, wait_until_served

API_KEY = "researcher-key-0123456789"
INLINE_LIMIT = 64 * 1024
REQUEST_LIMIT = 256 * 1024
BODY_IDLE_SECONDS = 2


@pytest.fixture(scope="module")
def gateway(serve_url, tiny_model, tmp_path_factory):
    from ray import serve

    from ndif_serve.app import build, build_gateway

    keys_file = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys_file.write_text(
        "keys:\n"
        f"- {{key: {API_KEY}, name: ada@example.org, tags: [trusted]}}\n"
        "- {key: other-key-9876543210, name: bob@example.org}\n"
    )
    serve.run(
        build(
            {
                "model_key": key_of(tiny_model),
                "repo_id": tiny_model,
                "dtype": "float32",
                "execution_timeout_seconds": 3,
            }
        ),
        name="gpt",
        route_prefix="/models/gpt",
    )
    serve.run(
        build_gateway(
            {
                "keys_file": str(keys_file),
                "max_inline_result_bytes": INLINE_LIMIT,
                "max_request_bytes": REQUEST_LIMIT,
                "request_body_idle_seconds": BODY_IDLE_SECONDS,
                "catalog_refresh_seconds": 1,
            }
        ),
        name="ndif-gateway",
        route_prefix="/",
    )
    import nnsight

    nnsight.CONFIG.API.HOST = serve_url
    _wait_until_served(serve_url, key_of(tiny_model))
    yield serve_url
    serve.delete("ndif-gateway")
    serve.delete("gpt")


_wait_until_served = wait_until_served


def backend(gateway, tiny_model, key=None, api_key=API_KEY, **kwargs):
    from nnsight.intervention.backends.remote import RemoteBackend

    model = client_model(tiny_model)
    return RemoteBackend(
        model_key=key or key_of(tiny_model),
        host=gateway,
        api_key=api_key,
        env=model._remoteable_get_env(),
        **kwargs,
    )


def local_hidden(tiny_model, prompt):
    model = local_model(tiny_model)
    with model.trace(prompt):
        h = model.transformer.h[0].output.save()
    return h


def test_a_blocking_remote_trace_returns_what_a_local_one_does(gateway, tiny_model):
    model = client_model(tiny_model)
    remote = backend(gateway, tiny_model)
    with model.trace("The Eiffel Tower is in", backend=remote):
        h = model.transformer.h[0].output.save()
    assert torch.allclose(h, local_hidden(tiny_model, "The Eiffel Tower is in"))
    assert remote.meta["runtime"] > 0


def test_remote_true_works_once_the_hub_id_is_known(gateway, tiny_model, monkeypatch):
    import nnsight
    from nnsight.modeling import huggingface

    monkeypatch.setitem(huggingface._ID_CACHE, tiny_model, tiny_model)
    monkeypatch.setattr(nnsight.CONFIG.API, "APIKEY", API_KEY)
    model = client_model(tiny_model)
    with model.trace("Kubernetes operators", remote=True):
        logits = model.lm_head.output.save()
    local = local_model(tiny_model)
    with local.trace("Kubernetes operators"):
        expected = local.lm_head.output.save()
    assert torch.allclose(logits, expected, atol=1e-6)


def test_a_non_blocking_job_is_submitted_then_polled(gateway, tiny_model):
    import time

    model = client_model(tiny_model)
    remote = backend(gateway, tiny_model, blocking=False)
    with model.trace("Ray Serve runs", backend=remote):
        h = model.transformer.h[0].output.save()  # noqa: F841
    assert remote.job_id
    result = None
    for _ in range(200):
        result = remote.poll()
        if result is not None:
            break
        time.sleep(0.1)
    assert result is not None, f"the job never completed (last status {remote.status})"
    assert torch.allclose(result["h"], local_hidden(tiny_model, "Ray Serve runs"))


def test_generate_with_several_tokens(gateway, tiny_model):
    model = client_model(tiny_model)
    with model.generate("Ray Serve", max_new_tokens=4, backend=backend(gateway, tiny_model)) as t:
        tokens = t.result.save()
    local = local_model(tiny_model)
    with local.generate("Ray Serve", max_new_tokens=4) as t:
        expected = t.result.save()
    assert tokens.shape[-1] == expected.shape[-1] > 4
    assert torch.equal(tokens, expected)


def test_an_error_in_the_block_shows_the_users_line(gateway, tiny_model):
    from nnsight.intervention.backends.remote import RemoteError

    model = client_model(tiny_model)
    with pytest.raises(RemoteError) as error:
        with model.trace("Ray", backend=backend(gateway, tiny_model)):
            h = model.transformer.h[0].output
            broken = h.no_such_attribute.save()  # noqa: F841
    text = str(error.value)
    assert "broken = h.no_such_attribute.save()" in text
    assert "AttributeError" in text
    assert "ndif_serve" not in text


def test_printed_lines_arrive_as_logs(gateway, tiny_model, capsys):
    model = client_model(tiny_model)
    with model.trace("Ray", backend=backend(gateway, tiny_model)):
        print("hello from the server")
        out = model.lm_head.output.save()
    assert out.shape[-1] > 0
    assert "hello from the server" in capsys.readouterr().out


def test_the_execution_timeout_stops_the_job(gateway, tiny_model):
    from nnsight.intervention.backends.remote import RemoteError

    model = client_model(tiny_model)
    with pytest.raises(RemoteError, match="exceeded the execution timeout of 3 s"):
        with model.trace("Ray", backend=backend(gateway, tiny_model)):
            import time as clock

            end = clock.monotonic() + 120
            while clock.monotonic() < end:
                pass
            out = model.lm_head.output.save()  # noqa: F841
    # The replica serves the next job.
    with model.trace("Ray", backend=backend(gateway, tiny_model)):
        h = model.transformer.h[0].output.save()
    assert torch.allclose(h, local_hidden(tiny_model, "Ray"))


@pytest.mark.parametrize(
    "api_key, message",
    [
        ("", "Missing API key"),
        ("not-a-key", "Invalid API key."),
    ],
)
def test_a_missing_or_wrong_key_is_refused_before_anything_runs(
    gateway, tiny_model, api_key, message
):
    import nnsight
    from nnsight.intervention.backends.remote import RemoteError

    model = client_model(tiny_model)
    remote = backend(gateway, tiny_model, api_key=api_key)
    remote.api_key = api_key  # no fallback to a configured key
    nnsight.CONFIG.API.APIKEY = None
    with pytest.raises(RemoteError, match=f"Failed to send request: {message}"):
        with model.trace("Ray", backend=remote):
            out = model.lm_head.output.save()  # noqa: F841


def test_a_request_above_the_size_limit_is_refused_with_the_limit(gateway, tiny_model):
    from nnsight.intervention.backends.remote import RemoteError

    model = client_model(tiny_model)
    big = torch.randn(REQUEST_LIMIT)  # 4 bytes each: four times the limit
    with pytest.raises(RemoteError, match=f"larger than this gateway's limit of {REQUEST_LIMIT}"):
        with model.trace("Ray", backend=backend(gateway, tiny_model)):
            model.transformer.h[0].output[0][:] += big[:32].sum()
            out = model.lm_head.output.save()  # noqa: F841


def test_an_unknown_model_key_names_the_keys_served(gateway, tiny_model):
    from nnsight.intervention.backends.remote import RemoteError

    model = client_model(tiny_model)
    other = key_of("/models/not-here")
    with pytest.raises(RemoteError) as error:
        with model.trace("Ray", backend=backend(gateway, tiny_model, key=other)):
            out = model.lm_head.output.save()  # noqa: F841
    assert f"The model {other} is not served here" in str(error.value)
    assert key_of(tiny_model) in str(error.value)


def test_a_key_spelled_the_legacy_way_reaches_the_same_model(gateway, tiny_model):
    model = client_model(tiny_model)
    legacy = 'nnsight.modeling.language.LanguageModel:{"repo_id": "%s", "revision": "main"}' % (
        tiny_model
    )
    with model.trace("Ray", backend=backend(gateway, tiny_model, key=legacy)):
        h = model.transformer.h[0].output.save()
    assert torch.allclose(h, local_hidden(tiny_model, "Ray"))


def test_a_result_above_the_inline_limit_is_downloaded_once(gateway, tiny_model):
    import time

    model = client_model(tiny_model)
    # Blocking: the client follows the link it is sent.
    with model.trace("Ray", backend=backend(gateway, tiny_model)):
        big = torch.ones(INLINE_LIMIT).save()
    assert big.numel() == INLINE_LIMIT

    # Non-blocking: the link in the polled status works once, with no key.
    remote = backend(gateway, tiny_model, blocking=False)
    with model.trace("Ray", backend=remote):
        big = torch.ones(INLINE_LIMIT).save()  # noqa: F841
    headers = {"ndif-api-key": API_KEY}
    for _ in range(200):
        polled = httpx.get(f"{gateway}/response/{remote.job_id}", headers=headers, timeout=10)
        if polled.status_code == 200 and polled.json()["status"] == "COMPLETED":
            break
        time.sleep(0.1)
    url = polled.json()["data"]
    assert url.startswith(gateway + "/result/")
    assert len(url.rsplit("/", 1)[1]) >= 40
    assert httpx.get(url, timeout=10).status_code == 200
    again = httpx.get(url, timeout=10)
    assert again.status_code == 404
    assert "already downloaded" in again.json()["detail"]


def test_a_job_is_polled_only_with_the_key_that_submitted_it(gateway, tiny_model):
    model = client_model(tiny_model)
    remote = backend(gateway, tiny_model, blocking=False)
    with model.trace("Ray", backend=remote):
        out = model.lm_head.output.save()  # noqa: F841
    other = httpx.get(
        f"{gateway}/response/{remote.job_id}",
        headers={"ndif-api-key": "other-key-9876543210"},
        timeout=10,
    )
    assert other.status_code == 404
    assert httpx.get(f"{gateway}/response/{remote.job_id}", timeout=10).status_code == 401


def test_a_full_queue_answers_at_once(gateway, tiny_model, serve_url):
    """The model's queue holds 64 by default; a deployment with a queue of 1 and a slow job shows
    the third concurrent job refused with a sentence."""
    import time

    from ray import serve

    from ndif_serve.app import ModelDeployment
    from ndif_serve.settings import ModelSettings

    key = key_of(tiny_model + "/")  # another key for the same weights
    settings = ModelSettings.from_args({"model_key": key, "repo_id": tiny_model, "dtype": "float32"})
    serve.run(
        ModelDeployment.options(max_queued_requests=1).bind(settings),
        name="queue-of-one",
        route_prefix="/models/queue-of-one",
    )
    try:
        _wait_until_served(gateway, key)
        model = client_model(tiny_model)
        jobs = []
        for _ in range(3):
            remote = backend(gateway, tiny_model, key=key, blocking=False)
            with model.trace("Ray", backend=remote):
                import time as clock

                end = clock.monotonic() + 1.5
                while clock.monotonic() < end:
                    pass
                out = model.lm_head.output.save()  # noqa: F841
            jobs.append(remote.job_id)
        final = {}
        deadline = time.monotonic() + 60
        while len(final) < 3 and time.monotonic() < deadline:
            for job in jobs:
                polled = httpx.get(
                    f"{gateway}/response/{job}", headers={"ndif-api-key": API_KEY}, timeout=10
                )
                if polled.status_code == 200 and polled.json()["status"] in ("COMPLETED", "ERROR"):
                    final[job] = polled.json()
            time.sleep(0.2)
        statuses = sorted(r["status"] for r in final.values())
        assert statuses == ["COMPLETED", "COMPLETED", "ERROR"], [
            httpx.get(f"{gateway}/response/{job}", headers={"ndif-api-key": API_KEY}).text
            for job in jobs
        ]
        refused = next(r for r in final.values() if r["status"] == "ERROR")
        assert "is full" in refused["description"]
    finally:
        serve.delete("queue-of-one")


def test_status_lists_each_replica_in_nnsights_shape(gateway, tiny_model, capsys):
    import nnsight

    raw = nnsight.status(raw=True)
    entries = [d for d in raw["deployments"].values() if d["model_key"] == key_of(tiny_model)]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["application_state"] == "RUNNING"
    assert entry["deployment_level"] == "HOT"
    assert entry["repo_id"] == tiny_model
    assert entry["revision"] is None
    assert entry["task"] == "text-generation"
    status = nnsight.status()
    assert tiny_model in status
    assert status[tiny_model]["state"] == "RUNNING"
    assert status[tiny_model]["hot_replicas"] == 1
    print(status)
    assert "TransformersModel" in capsys.readouterr().out


def test_compare_reads_the_servers_environment(gateway):
    import nnsight
    from nnsight import ndif

    comparison = ndif.EnvComparison(ndif.get_local_env(), ndif.get_remote_env(force_refresh=True))
    assert comparison.python_matches
    assert comparison.critical_mismatches == {}
    assert "torch" in str(nnsight.compare())


def test_whoami_names_the_keys_holder(gateway):
    from nnsight import ndif

    assert ndif.whoami(API_KEY) == {"email": "ada@example.org", "tags": ["trusted"]}
    assert httpx.get(gateway + "/whoami", timeout=10).json() == {"email": None, "tags": []}
    assert httpx.get(gateway + "/ping", timeout=10).json() == "pong"


def test_errors_are_a_detail_sentence(gateway):
    answer = httpx.post(
        gateway + "/request",
        headers={"ndif-api-key": API_KEY},
        files={"blob": ("request", b"x")},
        data={"data": json.dumps({"session_id": ""})},
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("The request's envelope is invalid: model_key")

    # A session that no websocket opened: its statuses would reach nobody, so it is refused.
    orphan = httpx.post(
        gateway + "/request",
        headers={"ndif-api-key": API_KEY},
        files={"blob": ("request", b"x")},
        data={"data": json.dumps({"model_key": "k", "session_id": "not-open"})},
        timeout=30,  # the gateway waits a moment for a session another replica is opening
    )
    assert orphan.status_code == 400
    assert "is not open on this gateway" in orphan.json()["detail"]


def test_a_request_whose_body_stops_arriving_is_answered_not_waited_for(gateway):
    # What a replica sees when Serve's proxy hands it a request whose body a replica that died
    # had already read: the headers, then nothing (here: part of the body, then nothing).
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(gateway)
    with socket.create_connection((address.hostname, address.port), timeout=60) as connection:
        connection.sendall(
            b"POST /request HTTP/1.1\r\n"
            + f"Host: {address.netloc}\r\nndif-api-key: {API_KEY}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000\r\n\r\n"
            + b"--b\r\n" + b"x" * 100
        )
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = connection.recv(65536)
            if not data:
                break
            answer += data
    waited = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert (
        f"The request's body stopped arriving for {BODY_IDLE_SECONDS} s".encode() in body
    ), answer
    assert waited >= BODY_IDLE_SECONDS * 0.9, waited


def test_two_replicas_serve_the_api_on_one_direct_port_without_serves_proxy(
    gateway, tiny_model, tmp_path
):
    import socket

    from ray import serve

    from ndif_serve import gateway as transport

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(f"- {{key: {API_KEY}, name: ada@example.org}}\n")
    settings = transport.GatewaySettings.from_args(
        {
            "keys_file": str(keys_file),
            "catalog_refresh_seconds": 1,
            "direct_port": port,
            "direct_host": "127.0.0.1",
        }
    )
    serve.run(
        transport.Gateway.options(num_replicas=2).bind(settings, transport.JobBrokerDeployment.bind()),
        name="direct-gateway",
        route_prefix="/direct",
    )
    direct = f"http://127.0.0.1:{port}"
    try:
        _wait_until_served(direct, key_of(tiny_model))
        model = client_model(tiny_model)
        for prompt in ("Ray", "Serve", "direct", "port"):  # the kernel spreads them over both
            with model.trace(prompt, backend=backend(direct, tiny_model)):
                h = model.transformer.h[0].output.save()
            h = h[0] if isinstance(h, tuple) else h
            expected = local_hidden(tiny_model, prompt)
            expected = expected[0] if isinstance(expected, tuple) else expected
            assert torch.allclose(h, expected, atol=1e-5)
        # The same replicas still answer through Serve's proxy.
        assert httpx.get(gateway + "/direct/ping", timeout=10).json() == "pong"
    finally:
        serve.delete("direct-gateway")
    # Deleted replicas stopped their servers: nothing listens on the port any more.
    with pytest.raises(httpx.TransportError):
        httpx.get(direct + "/ping", timeout=5)


def test_a_request_waits_a_moment_for_the_session_another_replica_is_opening(gateway, tiny_model):
    """The replica that holds the websocket opens its session in the broker without making the
    client wait: a POST that reaches another replica first waits for that opening."""
    import concurrent.futures

    from ray import serve

    broker = serve.get_deployment_handle("JobBroker", "ndif-gateway")

    def post(session_id: str) -> httpx.Response:
        return httpx.post(
            gateway + "/request",
            headers={"ndif-api-key": API_KEY},
            files={"blob": ("request", b"x")},
            data={"data": json.dumps({"model_key": "k", "session_id": session_id})},
            timeout=30,
        )

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(post, "opened-a-moment-later")
        time.sleep(0.5)
        broker.reopen_session.remote("opened-a-moment-later").result(timeout_s=10)
        assert answer.result().status_code == 200, answer.result().text
    assert answer.result().json()["status"] == "RECEIVED"
    frames = broker.next_frames.remote("opened-a-moment-later", 5.0).result(timeout_s=10)
    # The job's first status reached the session: the model is not served here, with a sentence.
    assert [json.loads(f.text)["status"] for f in frames] == ["ERROR"]
    broker.close_session.remote("opened-a-moment-later").result(timeout_s=10)


def test_jobs_reach_their_websocket_whichever_of_two_gateway_replicas_takes_them(
    gateway, tiny_model, tmp_path
):
    import concurrent.futures

    from ray import serve

    from ndif_serve import gateway as transport
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(f"- {{key: {API_KEY}, name: ada@example.org}}\n")
    settings = transport.GatewaySettings.from_args(
        {"keys_file": str(keys_file), "catalog_refresh_seconds": 1}
    )
    serve.run(
        transport.Gateway.options(num_replicas=2).bind(
            settings, transport.JobBrokerDeployment.bind()
        ),
        name="two-gateways",
        route_prefix="/two",
    )
    try:
        host = gateway + "/two"
        _wait_until_served(host, key_of(tiny_model))

        def trace(prompt):
            model = client_model(tiny_model)
            with model.trace(prompt, backend=backend(host, tiny_model)):
                h = model.transformer.h[0].output.save()
            return prompt, h

        prompts = [f"prompt number {i}" for i in range(8)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(trace, prompts))
        for prompt, h in results:
            assert torch.allclose(h, local_hidden(tiny_model, prompt), atol=1e-6)
    finally:
        serve.delete("two-gateways")


def test_an_open_job_survives_another_model_being_admitted(gateway, tiny_model):
    import concurrent.futures

    from ray import serve

    from ndif_serve.app import build

    model = client_model(tiny_model)

    def slow_trace():
        with model.trace("Ray", backend=backend(gateway, tiny_model)):
            import time as clock

            end = clock.monotonic() + 2
            while clock.monotonic() < end:
                pass
            h = model.transformer.h[0].output.save()
        return h

    other = key_of(tiny_model + "//")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(slow_trace)
        serve.run(
            build({"model_key": other, "repo_id": tiny_model, "dtype": "float32"}),
            name="admitted-later",
            route_prefix="/models/admitted-later",
        )
        try:
            assert torch.allclose(running.result(timeout=120), local_hidden(tiny_model, "Ray"))
            _wait_until_served(gateway, other, timeout=30)
        finally:
            serve.delete("admitted-later")


def test_requests_are_counted_by_key_and_outcome_in_rays_metrics(gateway, tiny_model, metrics_url):
    import time

    model = client_model(tiny_model)
    with model.trace("Ray", backend=backend(gateway, tiny_model)):
        out = model.lm_head.output.save()  # noqa: F841
    wanted = ('ray_ndif_gateway_requests_total', 'outcome="COMPLETED"', "ray_ndif_gateway_queue_seconds")
    text = ""
    deadline = time.monotonic() + 90  # Ray exports every few seconds
    while time.monotonic() < deadline:
        try:
            text = httpx.get(metrics_url, timeout=10).text
        except httpx.HTTPError:
            text = ""
        if all(w in text for w in wanted) and "ray_ndif_gateway_execution_seconds" in text:
            break
        time.sleep(2)
    counted = [line for line in text.splitlines() if line.startswith("ray_ndif_gateway_requests")]
    assert any('outcome="COMPLETED"' in line and tiny_model in line for line in counted), counted
    assert any('outcome="NOT_SERVED"' in line for line in counted), counted
    assert "ray_ndif_gateway_execution_seconds_bucket" in text


def test_each_request_is_a_span_when_an_otlp_endpoint_is_set(gateway, tiny_model, tmp_path):
    from ray import serve

    from ndif_serve import gateway as transport
    from otlp import SpanReceiver

    receiver = SpanReceiver()
    received = receiver.received
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(f"- {{key: {API_KEY}}}\n")
    settings = transport.GatewaySettings.from_args(
        {"keys_file": str(keys_file), "catalog_refresh_seconds": 1}
    )
    endpoint = receiver.endpoint
    serve.run(
        transport.Gateway.options(
            ray_actor_options={"runtime_env": {"env_vars": {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}}}
        ).bind(settings, transport.JobBrokerDeployment.bind()),
        name="traced-gateway",
        route_prefix="/traced",
    )
    try:
        host = gateway + "/traced"
        _wait_until_served(host, key_of(tiny_model))
        model = client_model(tiny_model)
        with model.trace("Ray", backend=backend(host, tiny_model)):
            out = model.lm_head.output.save()  # noqa: F841
        deadline = time.monotonic() + 60  # the batch processor sends every 5 s
        while not received and time.monotonic() < deadline:
            time.sleep(0.5)
        assert received, "no span reached the OTLP endpoint"
        path, body = received[0]
        assert path == "/v1/traces"
        assert b"nnsight.request" in body
        assert tiny_model.encode() in body  # the model key attribute
        # The request's hops, in the order they happened.
        spans = receiver.spans("nnsight.request")
        events = [(e.time_unix_nano, e.name) for e in spans[0].events]
        assert [name for _, name in events] == [
            "gateway.received",
            "gateway.released",
            "handle.called",
            "replica.running",
            "replica.result",
            "gateway.delivered",
        ]
        assert [t for t, _ in events] == sorted(t for t, _ in events)
    finally:
        serve.delete("traced-gateway")
        receiver.shutdown()


def test_a_model_deleted_and_deployed_again_is_reached_again(gateway, tiny_model):
    """An on-demand model idles out and is deployed again under the same application name, from
    Serve's config as the operator does; a job sent while its replica starts must not go to the
    handle of the deleted one."""
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    model = client_model(tiny_model)
    key = key_of(tiny_model + "///")
    expected = local_hidden(tiny_model, "again")
    client = _get_global_client()
    application = {
        "name": "comes-back",
        "route_prefix": "/models/comes-back",
        "import_path": "ndif_serve.app:build",
        "args": {"model_key": key, "repo_id": tiny_model, "dtype": "float32"},
    }

    def apply(*applications):
        client.deploy_apps(ServeDeploySchema(applications=list(applications)))

    def trace():
        with model.trace("again", backend=backend(gateway, tiny_model, key=key)):
            h = model.transformer.h[0].output.save()
        return h

    apply(application)
    try:
        _wait_until_served(gateway, key, timeout=60)
        assert torch.allclose(trace(), expected)
        for _ in range(2):
            apply()
            _wait_until_listed(gateway, key, False)
            apply(application)
            # Listed while its replica starts: the job is sent to Serve at once.
            _wait_until_listed(gateway, key, True)
            assert torch.allclose(trace(), expected)
    finally:
        apply()
        _wait_until_listed(gateway, key, False)


def test_a_job_waiting_for_a_replica_that_cannot_start_ends_with_the_reason(gateway, tiny_model):
    """Sent while the model deploys, the job waits in Serve for a replica; when Serve gives up
    starting them, the job ends with the reason instead of waiting for ever."""
    from nnsight.intervention.backends.remote import RemoteError
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    model = client_model(tiny_model)
    key = key_of("/nonexistent/model")
    client = _get_global_client()
    client.deploy_apps(
        ServeDeploySchema(
            applications=[
                {
                    "name": "cannot-start",
                    "route_prefix": "/models/cannot-start",
                    "import_path": "ndif_serve.app:build",
                    "args": {"model_key": key, "repo_id": "/nonexistent/model", "dtype": "float32"},
                }
            ]
        )
    )
    try:
        _wait_until_listed(gateway, key, True)
        with pytest.raises(RemoteError) as refused:
            with model.trace("never", backend=backend(gateway, tiny_model, key=key)):
                out = model.transformer.h[0].output.save()  # noqa: F841
        assert str(refused.value).startswith(
            f"The model {key} cannot run now: its deployment is DEPLOY_FAILED."
        )
        assert "/nonexistent/model" in str(refused.value)
    finally:
        client.deploy_apps(ServeDeploySchema(applications=[]))
        _wait_until_listed(gateway, key, False)


@pytest.fixture(scope="module")
def patient_model(gateway, tiny_model):
    """The tiny model again, under another key, without the 3 s execution timeout."""
    from ray import serve

    from ndif_serve.app import build

    key = key_of(tiny_model + "/./")
    serve.run(
        build({"model_key": key, "repo_id": tiny_model, "dtype": "float32"}),
        name="patient",
        route_prefix="/models/patient",
    )
    _wait_until_served(gateway, key)
    yield key
    serve.delete("patient")


def slow_trace(host, tiny_model, key, seconds):
    model = client_model(tiny_model)
    with model.trace("Ray", backend=backend(host, tiny_model, key=key)):
        import time as clock

        end = clock.monotonic() + seconds
        while clock.monotonic() < end:
            pass
        h = model.transformer.h[0].output.save()
    return h


def test_a_blocking_job_gets_its_result_when_the_broker_dies_meanwhile(
    gateway, tiny_model, patient_model
):
    """The embedded broker's replica dies while a blocking trace runs: Serve starts another, and
    the caller, whose websocket and request met on one gateway replica, still gets its result;
    polls and new jobs work again once the new broker runs."""
    import concurrent.futures
    import time

    import ray

    model = client_model(tiny_model)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(slow_trace, gateway, tiny_model, patient_model, 5)
        time.sleep(1.5)
        brokers = [
            a["name"]
            for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == "serve" and "ndif-gateway" in a["name"] and "JobBroker" in a["name"]
        ]
        assert brokers
        for name in brokers:
            ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)
        assert torch.allclose(running.result(timeout=120), local_hidden(tiny_model, "Ray"))
    with model.trace("Ray", backend=backend(gateway, tiny_model)):
        h = model.transformer.h[0].output.save()
    assert torch.allclose(h, local_hidden(tiny_model, "Ray"))


def test_a_gateway_that_stops_tells_the_running_jobs_websocket_why(
    gateway, tiny_model, patient_model, tmp_path
):
    """Without a store, a gateway replica that stops (an upgrade, a scale-down) ends the job it
    still runs before its graceful timeout (5 s here) with a sentence on the job's websocket,
    never a socket closed without a status."""
    import concurrent.futures
    import time

    from nnsight.intervention.backends.remote import RemoteError
    from ray import serve

    from ndif_serve import gateway as transport

    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(f"- {{key: {API_KEY}, name: ada@example.org}}\n")
    settings = transport.GatewaySettings.from_args(
        {"keys_file": str(keys_file), "catalog_refresh_seconds": 1}
    )
    serve.run(
        transport.Gateway.options(graceful_shutdown_timeout_s=5).bind(
            settings, transport.JobBrokerDeployment.bind()
        ),
        name="stopping-gateway",
        route_prefix="/stopping",
    )
    host = gateway + "/stopping"
    _wait_until_served(host, patient_model)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(slow_trace, host, tiny_model, patient_model, 10)
        time.sleep(1.5)
        serve.delete("stopping-gateway")
        with pytest.raises(RemoteError) as ended:
            running.result(timeout=60)
    assert str(ended.value) == transport.GATEWAY_STOPPED


def _wait_until_listed(url, key, listed, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(url + "/status", timeout=5).json()
        keys = {d.get("model_key") for d in status.get("deployments", {}).values()}
        if (key in keys) == listed:
            return
        time.sleep(0.2)
    raise AssertionError(f"{key} was {'not ' if listed else ''}listed within {timeout} s")
