// Parses "tcp://host:port" endpoints for the managed transport (the native one hands them to libzmq).
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Globalization;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>A parsed tcp endpoint.</summary>
    public struct TcpEndpoint
    {
        public readonly string Host;
        public readonly int Port;

        public TcpEndpoint(string host, int port)
        {
            Host = host;
            Port = port;
        }

        /// <summary>Parses "tcp://host:port" (IPv6 hosts in brackets: "tcp://[::1]:5555").</summary>
        public static TcpEndpoint Parse(string endpoint)
        {
            if (endpoint == null) throw new ArgumentNullException(nameof(endpoint));
            const string scheme = "tcp://";
            if (!endpoint.StartsWith(scheme, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    "endpoint '" + endpoint + "' must start with tcp:// (e.g. tcp://127.0.0.1:5555); the managed " +
                    "transport speaks tcp only", nameof(endpoint));
            }
            string rest = endpoint.Substring(scheme.Length);
            int colon = rest.LastIndexOf(':');
            if (colon <= 0 || colon == rest.Length - 1)
            {
                throw new ArgumentException(
                    "endpoint '" + endpoint + "' needs host and port, e.g. tcp://127.0.0.1:5555", nameof(endpoint));
            }
            string host = rest.Substring(0, colon);
            if (host.StartsWith("[", StringComparison.Ordinal) && host.EndsWith("]", StringComparison.Ordinal))
            {
                host = host.Substring(1, host.Length - 2);
            }
            int port;
            if (!int.TryParse(rest.Substring(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port)
                || port < 1 || port > 65535)
            {
                throw new ArgumentException(
                    "endpoint '" + endpoint + "' has port '" + rest.Substring(colon + 1) +
                    "'; the port must be an integer in 1..65535", nameof(endpoint));
            }
            if (host == "*")
            {
                throw new ArgumentException(
                    "endpoint '" + endpoint + "' uses '*', which only a server can bind; connect to a host name " +
                    "or address", nameof(endpoint));
            }
            return new TcpEndpoint(host, port);
        }
    }
}
