// Part of the sample "Stylized Camera" (StylizedCameraSample.cs adds it to the trigger zone it builds). In a file of
// its own: Unity finds a MonoBehaviour's script by the file named after it.
// NOT COMPILED OR RUN HERE against the real engine: type-checked with mono against the API stubs of
// unity_package/Tests~/UnityStubs, like the rest of the sample.
using StreamDiffusion.Bridge;
using StreamDiffusion.Bridge.Core.Protocol;
using UnityEngine;

/// <summary>Sends "enter_zone"/"leave_zone" game events and a "zone" state variable.</summary>
public sealed class ZoneTrigger : MonoBehaviour
{
    public string zoneName = "forest";

    private void OnTriggerEnter(Collider other)
    {
        StreamDiffusionGameplay.SendEvent("enter_zone", KeyValueData.Of("zone", zoneName));
        StreamDiffusionGameplay.SetState("zone", zoneName);
    }

    private void OnTriggerExit(Collider other)
    {
        StreamDiffusionGameplay.SendEvent("leave_zone", KeyValueData.Of("zone", zoneName));
        StreamDiffusionGameplay.SetState("zone", "none");
    }
}
