# Build: docker build -t ndif-operator .
# Without Docker Hub (hack/image.sh builds it so, from a local base and the jar of `mvn package`):
#   buildah bud --build-arg RUNTIME_IMAGE=<a JRE 17 image> --build-arg JAR_FROM=context .
ARG BUILDER_IMAGE=maven:3.9-eclipse-temurin-17
ARG RUNTIME_IMAGE=eclipse-temurin:17-jre
# build: compile in the builder image; context: take target/ndif-operator.jar and target/lib
# from the build context (run `mvn package` first).
ARG JAR_FROM=build

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -q dependency:go-offline
COPY src src
COPY crds crds
RUN mvn -B -q -DskipTests package

FROM scratch AS context
COPY target/ndif-operator.jar /src/target/ndif-operator.jar
COPY target/lib /src/target/lib

FROM ${JAR_FROM} AS jar

# Runtime: a JRE with no shell needed; runs as a non-root user on a read-only root filesystem.
FROM ${RUNTIME_IMAGE}
WORKDIR /app
COPY --from=jar /src/target/ndif-operator.jar /app/ndif-operator.jar
COPY --from=jar /src/target/lib /app/lib
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp"
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/app/ndif-operator.jar"]
