package io.ndif.operator.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/** The {@code export NAME=value} lines a hack/ script's {@code env} command prints. */
final class EnvFile {
  private static final Pattern EXPORT = Pattern.compile("^export (\\w+)=(.*)$");

  private EnvFile() {}

  static Map<String, String> read(Path envFile) {
    try {
      Map<String, String> values = new LinkedHashMap<>();
      for (String line : Files.readAllLines(envFile)) {
        var m = EXPORT.matcher(line.trim());
        if (m.matches()) {
          values.put(m.group(1), m.group(2));
        }
      }
      return values;
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the env file " + envFile, e);
    }
  }
}
