import java.io.IOException;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Opcodes;

/**
 * Build step of vineyard-cli (run by `mvn package` with the source launcher, not part of any jar):
 * rewrites the classes of a jar in target/lib whose class files are older than Java 6 (version 50)
 * as version 52 (Java 8) class files, with stack map frames computed by ASM.
 *
 * <p>Why: picocli ships Java 5 class files, which the JDK's AOT cache (JEP 483) cannot link ahead of
 * time ("Unlinked class not supported by AOTClassLinking"), so every vineyardctl command loaded and
 * verified picocli from the jar with the old inference verifier. Only the class-file version and the
 * frames change; the bytecode is the same. Every rewritten class is then loaded and initialized in a
 * fresh class loader, so a frame the verifier rejects fails the build, not a user's command.
 *
 * <p>usage: java -cp asm.jar UpgradeClassFiles.java JAR...
 */
public final class UpgradeClassFiles {

  private static final int TARGET = Opcodes.V1_8;

  public static void main(String[] args) throws Exception {
    for (String a : args) {
      upgrade(Path.of(a));
    }
  }

  private static void upgrade(Path jar) throws Exception {
    Path tmp = jar.resolveSibling(jar.getFileName() + ".tmp");
    List<String> upgraded = new ArrayList<>();
    try (URLClassLoader original = new URLClassLoader(new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
        ZipInputStream in = new ZipInputStream(Files.newInputStream(jar));
        OutputStream file = Files.newOutputStream(tmp);
        ZipOutputStream out = new ZipOutputStream(file)) {
      ZipEntry e;
      while ((e = in.getNextEntry()) != null) {
        byte[] b = in.readAllBytes();
        String name = e.getName();
        if (name.endsWith(".class") && !name.startsWith("META-INF/") && !name.endsWith("module-info.class") && version(b) < 50) {
          b = rewrite(b, original);
          upgraded.add(name.substring(0, name.length() - ".class".length()).replace('/', '.'));
        }
        ZipEntry copy = new ZipEntry(name);
        copy.setTime(e.getTime());
        out.putNextEntry(copy);
        out.write(b);
        out.closeEntry();
      }
    }
    if (upgraded.isEmpty()) {
      Files.delete(tmp);
      System.out.println(jar.getFileName() + ": nothing to upgrade");
      return;
    }
    verify(tmp, upgraded);
    Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING);
    System.out.println(jar.getFileName() + ": " + upgraded.size() + " classes rewritten as version " + TARGET + " and verified");
  }

  private static int version(byte[] classFile) {
    return ((classFile[6] & 0xff) << 8) | (classFile[7] & 0xff);
  }

  private static byte[] rewrite(byte[] b, ClassLoader types) {
    ClassReader r = new ClassReader(b);
    ClassWriter w =
        new ClassWriter(ClassWriter.COMPUTE_FRAMES) {
          @Override
          protected ClassLoader getClassLoader() {
            return types; // the frames' common supertypes are looked up among the jar's own classes
          }
        };
    r.accept(
        new ClassVisitor(Opcodes.ASM9, w) {
          @Override
          public void visit(int version, int access, String name, String signature, String superName, String[] interfaces) {
            super.visit(TARGET, access, name, signature, superName, interfaces);
          }
        },
        ClassReader.SKIP_FRAMES);
    return w.toByteArray();
  }

  /** Loads and initializes every rewritten class: the JVM verifies each as it links it. */
  private static void verify(Path jar, List<String> classes) throws IOException {
    try (URLClassLoader l = new URLClassLoader(new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
      for (String c : classes) {
        try {
          Class.forName(c, true, l);
        } catch (ClassNotFoundException | LinkageError ex) {
          if (ex instanceof VerifyError || ex instanceof ClassFormatError) {
            Files.deleteIfExists(jar);
            throw new IllegalStateException("rewritten class " + c + " does not verify: " + ex, ex);
          }
          // NoClassDefFoundError of an optional dependency, for one: not the rewrite's doing.
        }
      }
    }
  }
}
