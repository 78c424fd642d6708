package io.ndif.operator.observability;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * Configures Logback from the environment: {@code LOG_FORMAT} {@code text} (default) or {@code
 * json} (one object per line), and, when {@code LOKI_URL} is set, a Loki push appender as well (to
 * {@code <LOKI_URL>/loki/api/v1/push}, followed by the URL's query string if it has one).
 */
public final class LogSetup {
  private LogSetup() {}

  public static void configure(Map<String, String> env) {
    var context = (LoggerContext) LoggerFactory.getILoggerFactory();
    String format =
        "json".equalsIgnoreCase(env.getOrDefault("LOG_FORMAT", "text")) ? "json" : "text";
    context.reset();
    env.forEach(
        (k, v) -> {
          if (k.equals("LOKI_URL")
              || k.equals("SERVICE_NAME")
              || k.startsWith("LOG_")
              || k.equals("JOSDK_LOG_LEVEL")) {
            context.putProperty(k, v);
          }
        });
    try {
      load(context, "logging/format-" + format + ".xml");
      String loki = env.get("LOKI_URL");
      if (loki != null && !loki.isBlank()) {
        // A query string stays after the push path: http://vl:9428/insert?_msg_field=message
        // pushes to /insert/loki/api/v1/push?_msg_field=message (VictoriaLogs' own parameters).
        int query = loki.indexOf('?');
        String base = query < 0 ? loki : loki.substring(0, query);
        context.putProperty("LOKI_URL", base.replaceAll("/+$", ""));
        context.putProperty("LOKI_QUERY", query < 0 ? "" : loki.substring(query));
        load(context, "logging/loki.xml");
      }
    } catch (JoranException e) {
      throw new IllegalStateException("cannot configure logging: " + e.getMessage(), e);
    }
  }

  private static void load(LoggerContext context, String resource) throws JoranException {
    var configurator = new JoranConfigurator();
    configurator.setContext(context);
    configurator.doConfigure(LogSetup.class.getClassLoader().getResource(resource));
  }
}
