"""JupyterLab for real: start it as README's course command does, talk to its REST API, stop it."""
import json
import time
import uuid

import pytest

from labserver import jupyter_lab


@pytest.fixture
def lab(tmp_path):
    with jupyter_lab(tmp_path) as (base, _, session):
        yield base, session


@pytest.mark.slow
def test_jupyterlab_serves_lessons_and_runs_a_kernel(lab):
    base, session = lab
    top = session.get(f"{base}/api/contents/", timeout=10).json()
    assert "01_bi_encoder" in {item["name"] for item in top["content"]}, "the server root must be lessons/"
    nb = session.get(f"{base}/api/contents/01_bi_encoder/01_bi_encoder.ipynb", timeout=10).json()
    assert nb["type"] == "notebook" and nb["content"]["cells"]
    assert session.get(f"{base}/lab", timeout=10).ok, "the JupyterLab page itself is served"

    kernel = session.post(f"{base}/api/kernels", json={"name": "python3"}, timeout=30).json()
    assert run_in_kernel(base, session, kernel["id"], "import asymkit, sys; print(asymkit.__name__, 6 * 7)") \
        == "asymkit 42\n", "the kernel must run code and import the course library"
    assert session.delete(f"{base}/api/kernels/{kernel['id']}", timeout=30).status_code == 204
    assert session.get(f"{base}/api/kernels", timeout=10).json() == []


def run_in_kernel(base, session, kernel_id, code, timeout=90):
    """Send one execute_request over the kernel's websocket; return what it printed."""
    import websocket  # websocket-client, installed with Jupyter

    url = base.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels"
    ws = websocket.create_connection(url, header=[f"Authorization: {session.headers['Authorization']}"],
                                     timeout=timeout)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        out, deadline = "", time.time() + timeout
        while time.time() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out += msg["content"]["text"]
            elif msg["msg_type"] == "error":
                pytest.fail(f"kernel error: {msg['content']['ename']}: {msg['content']['evalue']}")
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return out
        pytest.fail("the kernel did not answer")
    finally:
        ws.close()
