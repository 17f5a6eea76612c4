# Interslice DICOM node.
#   CPU image (default):  docker build -t interslice .
#   CUDA image:           docker build --build-arg VARIANT=cuda -t interslice:cuda .
# Node 24 LTS (the project runs on Node 20, 22 and 24). The CUDA variant starts from NVIDIA's
# CUDA 12 + cuDNN 9 runtime and runs onnxruntime-node's install script, which fetches its CUDA
# execution provider from NuGet (.npmrc keeps npm from running install scripts, for offline installs).

ARG VARIANT=cpu
ARG NODE_VERSION=24

# ---- build: install production dependencies once ----
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
ARG VARIANT
RUN npm ci --omit=dev --no-audit --no-fund \
 && if [ "$VARIANT" = "cuda" ]; then \
      cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js \
        && test -f bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so; fi

# ---- runtime bases ----
FROM node:${NODE_VERSION}-bookworm-slim AS base-cpu

FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04 AS base-cuda
ARG NODE_VERSION
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && curl -fsSL https://deb.nodesource.com/setup_${NODE_VERSION}.x | bash - \
 && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*

# ---- runtime ----
FROM base-${VARIANT} AS runtime
ENV NODE_ENV=production \
    INTERSLICE__STORAGE__DIR=/var/lib/interslice
WORKDIR /app
RUN groupadd --system interslice && useradd --system --gid interslice --home /var/lib/interslice interslice \
 && mkdir -p /var/lib/interslice && chown interslice:interslice /var/lib/interslice
COPY --from=deps /app/node_modules ./node_modules
COPY package.json .npmrc ./
COPY bin ./bin
COPY src ./src
COPY config ./config
COPY models ./models
USER interslice
EXPOSE 11112
VOLUME ["/var/lib/interslice"]
ENTRYPOINT ["node", "bin/interslice.js"]
CMD ["serve", "--config", "config/default.yaml"]
