"""The SenseID manual's own clients (seed 001) against the real server over real HTTP, unchanged: its Java sample
(Apache HttpClient 4, form-urlencoded 1.1, with an AESCipher written from the documented scheme) compiled with
Debian's JDK and HttpClient jars, and its curl example, which sends the Base64 without URL-encoding it."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import pytest

from edge_face import routes

JAVA_DIR = Path(__file__).parent / "vendor" / "java"
JARS = [Path("/usr/share/java") / name for name in ("httpclient.jar", "httpcore.jar", "commons-logging.jar")]
VENDOR_KEY, VENDOR_IV = "dcbbad6765e14139a07d34b92292a672", "df25d188a061"  # hard-coded in the vendor's sample
VECTOR = "7EWZ/NONkYfOjH/m+K3KKsDO4CZ/"  # API.md: "hello" with the vendor's key and IV


@pytest.fixture(scope="module")
def vendor_api(api_server):
    """A server with the vendor's default key and IV, whatever the deployment's configuration says."""
    return api_server(aes_key=VENDOR_KEY, aes_iv=VENDOR_IV)


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory) -> Path:
    javac, java = shutil.which("javac"), shutil.which("java")
    missing = [str(jar) for jar in JARS if not jar.is_file()]
    if not (javac and java) or missing:
        pytest.skip("Debian's openjdk-17-jdk-headless and libhttpclient-java are not installed "
                    f"(make test installs them as root; missing: {'javac' if not javac else ''} {' '.join(missing)})")
    out = tmp_path_factory.mktemp("java")
    subprocess.run([javac, "-cp", classpath(), "-d", str(out), *map(str, sorted(JAVA_DIR.glob("*.java")))],
                   check=True, capture_output=True, timeout=300)
    return out


def classpath(*extra: Path) -> str:
    return ":".join(str(p) for p in (*extra, *JARS))


def run_java(classes: Path, main: str, *args: str, props: dict[str, str] | None = None) -> str:
    cmd = ["java", "-cp", classpath(classes), *(f"-D{k}={v}" for k, v in (props or {}).items()), main, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_aes_cipher_gives_the_documented_vector(java_classes):
    assert run_java(java_classes, "AESCipher", "hello").strip() == VECTOR


def test_the_manuals_java_sample_verifies_two_photos_of_obama(java_classes, vendor_api, photos):
    out = run_java(java_classes, "HttpClient", props={"edge_face.url": vendor_api.url,
                                                      "edge_face.face_01": str(photos / "obama.jpg"),
                                                      "edge_face.face_02": str(photos / "obama2.jpg")})
    line = out.splitlines()[0]
    print("java sample:", line)
    body = json.loads(line)
    assert body["code"] == 1000 and body["verification_score"] > 0.7, out
    assert list(body) == ["code", "verification_score", "request_id"]


def small_jpeg(path: Path, width: int = 360) -> bytes:
    """The photo scaled down so that its Base64 fits one command-line argument (Linux: 128 KiB), as curl's
    `-d name=value` takes it."""
    image = cv2.imread(str(path))
    scaled = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def test_the_manuals_curl_example(vendor_api, photos):
    curl = shutil.which("curl")
    if not curl:
        pytest.skip("curl is not installed")
    first = vendor_api.encrypt(small_jpeg(photos / "obama.jpg"))
    second = vendor_api.encrypt(small_jpeg(photos / "obama2.jpg"))
    assert "+" in first + second  # curl -d sends them as they are: the server must read the spaces back as '+'
    done = subprocess.run([curl, "-s", "-X", "POST", vendor_api.url + routes.VERIFY,
                           "-d", f"first_encrypted_image={first}",
                           "-d", f"second_encrypted_image={second}",
                           "-d", "auto_rotate=true"], capture_output=True, text=True, timeout=120)
    print("curl:", done.stdout)
    body = json.loads(done.stdout)
    assert body["code"] == 1000 and body["verification_score"] > 0.7, body
