# localpose web service and WebUI on port 8080.
# Build: docker build -t localpose .    Run: docker run -p 8080:8080 localpose
FROM python:3.11-slim

# OpenCV (pulled in by mediapipe) needs these system libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 localpose
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \
 && rm -rf /root/.cache

USER localpose
ENV LOCALPOSE_CACHE_DIR=/home/localpose/.cache/localpose
# Build the model bundle into the image so the first request needs nothing else.
RUN localpose doctor

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"
CMD ["localpose", "serve", "--host", "0.0.0.0", "--port", "8080"]
