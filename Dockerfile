# Build: docker build -t ndif-operator .
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -q dependency:go-offline
COPY src src
COPY crds crds
RUN mvn -B -q -DskipTests package

# Runtime: a JRE with no shell needed; runs as a non-root user on a read-only root filesystem.
FROM eclipse-temurin:17-jre
WORKDIR /app
COPY --from=build /src/target/ndif-operator.jar /app/ndif-operator.jar
COPY --from=build /src/target/lib /app/lib
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp"
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/app/ndif-operator.jar"]
