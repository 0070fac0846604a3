// The wire protocol version spoken by the C# client core.
// Must equal python_server/sdbridge/protocol/version.py and the C++ sdbridge/version.h;
// tests/protocol/test_versions_agree.py fails when they disagree.
namespace StreamDiffusion.Bridge.Core
{
    /// <summary>Protocol version of schemas/bridge.fbs that this client speaks.</summary>
    public static class ProtocolVersion
    {
        /// <summary>Major version: a different major is refused by the server.</summary>
        public const ushort Major = 1;

        /// <summary>Minor version: a different minor is accepted with a warning.</summary>
        public const ushort Minor = 0;

        /// <summary>file_identifier of every Envelope buffer.</summary>
        public const string FileIdentifier = "SDB1";
    }
}
