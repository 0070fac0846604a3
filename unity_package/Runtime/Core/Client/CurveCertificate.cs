// The client's CurveZMQ key pair, read from a ZeroMQ certificate file OUTSIDE the game's build (what
// `sdbridge keys generate --dir DIR --name NAME` writes as NAME.key_secret), so no secret key ships in a
// player or sits in a project asset. Where the file is looked up, first match wins:
//   1. the environment variable SDBRIDGE_CURVE_CLIENT_CERT (a path);
//   2. the path given by the caller (the project settings' "Curve Client Certificate", may start with "~/");
//   3. ~/.sdbridge/keys/client.key_secret (the user's home folder).
// The format is ZeroMQ's certificate text (zmq.auth / zcert): a "curve" section with
//   public-key = "<40 Z85 chars>" and secret-key = "<40 Z85 chars>".
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.IO;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>A client key pair (Z85) and the file it came from.</summary>
    public sealed class CurveCertificate
    {
        /// <summary>Environment variable that names the client's secret certificate file.</summary>
        public const string EnvironmentVariable = "SDBRIDGE_CURVE_CLIENT_CERT";
        /// <summary>Fallback location under the user's home folder.</summary>
        public const string DefaultRelativePath = ".sdbridge/keys/client.key_secret";

        public string PublicKey { get; private set; }
        public string SecretKey { get; private set; }
        public string Path { get; private set; }

        /// <summary>Finds the certificate file (environment, then <paramref name="configuredPath"/>, then the
        /// default under the home folder) and reads it. Throws FileNotFoundException naming every place tried.</summary>
        public static CurveCertificate Locate(string configuredPath)
        {
            string env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            string[] candidates = { env, ExpandHome(configuredPath), ExpandHome("~/" + DefaultRelativePath) };
            string tried = "";
            foreach (string candidate in candidates)
            {
                if (string.IsNullOrEmpty(candidate)) continue;
                if (File.Exists(candidate)) return Load(candidate);
                tried += (tried.Length > 0 ? ", " : "") + candidate;
            }
            throw new FileNotFoundException(
                "no CurveZMQ client certificate found (tried " + (tried.Length > 0 ? tried : "nothing") + "): make " +
                "one with `sdbridge keys generate --dir ~/.sdbridge/keys --name client`, put its public key file " +
                "(client.key) in the server's --authorized-keys folder, and point " + EnvironmentVariable +
                " or the project setting at client.key_secret (keep it out of Assets/)");
        }

        /// <summary>Reads a ZeroMQ secret certificate file. Throws FormatException naming the file and key.</summary>
        public static CurveCertificate Load(string path)
        {
            string publicKey = null;
            string secretKey = null;
            foreach (string raw in File.ReadAllLines(path))
            {
                string line = raw.Trim();
                if (line.StartsWith("#")) continue;
                int eq = line.IndexOf('=');
                if (eq <= 0) continue;
                string name = line.Substring(0, eq).Trim();
                string value = line.Substring(eq + 1).Trim().Trim('"');
                if (name == "public-key") publicKey = value;
                else if (name == "secret-key") secretKey = value;
            }
            Check(path, "public-key", publicKey);
            Check(path, "secret-key", secretKey);
            return new CurveCertificate { PublicKey = publicKey, SecretKey = secretKey, Path = path };
        }

        /// <summary>"~/x" becomes the home folder + "/x"; anything else is returned as is.</summary>
        public static string ExpandHome(string path)
        {
            if (string.IsNullOrEmpty(path) || !(path == "~" || path.StartsWith("~/"))) return path;
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return path.Length <= 2 ? home : System.IO.Path.Combine(home, path.Substring(2));
        }

        private static void Check(string path, string key, string value)
        {
            if (value == null)
            {
                throw new FormatException(path + " has no " + key + " line: it is not a ZeroMQ secret certificate; " +
                                          "make one with `sdbridge keys generate` and use the NAME.key_secret file");
            }
            if (value.Length != 40)
            {
                throw new FormatException(path + ": " + key + " is " + value.Length + " characters; a Z85 CurveZMQ " +
                                          "key is 40 (regenerate it with `sdbridge keys generate`)");
            }
        }
    }
}
