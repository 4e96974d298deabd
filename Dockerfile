# localpose web service and WebUI on port 8080.
# Build: docker build -t localpose .    Run: docker run -p 8080:8080 localpose
# Untested here (no Docker engine on our machines). The image holds localpose's default install:
# LiteRT, numpy, OpenCV (headless), SciPy, PyAV, Pillow, FastAPI/uvicorn; no mediapipe.
FROM python:3.12-slim

RUN useradd --create-home --uid 10001 localpose
WORKDIR /app
COPY pyproject.toml README.md NOTICE ./
COPY src ./src
RUN pip install --no-cache-dir . \
 && rm -rf /root/.cache

USER localpose
ENV LOCALPOSE_CACHE_DIR=/home/localpose/.cache/localpose
# Check the shipped weights' hashes and run one inference with networking blocked.
RUN localpose doctor

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4).status != 200)"
# Listening on all interfaces: set LOCALPOSE_API_KEY (or --api-key) unless only trusted hosts reach it.
CMD ["localpose", "serve", "--host", "0.0.0.0", "--port", "8080"]
