// Not compiled here (no Unreal Engine on the build machines). See SDBridgeFrameHistory.h.
#include "SDBridgeFrameHistory.h"

FSDBridgeFrameHistory::FSDBridgeFrameHistory(int32 Capacity)
	: Cameras(static_cast<size_t>(FMath::Max(Capacity, 2)))
{
}

void FSDBridgeFrameHistory::AddPending(uint64 CaptureTimeUs, FSDBridgeDepictedFrame&& Frame)
{
	check(IsInRenderingThread());
	if (Pending.Num() >= MaxPending)
	{
		Pending.RemoveAt(0);  // out of step with the ring (e.g. the capture source changed): drop the oldest
	}
	Pending.Emplace(CaptureTimeUs, MoveTemp(Frame));
}

void FSDBridgeFrameHistory::Retire(int32 Freed, uint64 SubmittedCaptureTimeUs, uint64 SubmittedFrameId)
{
	check(IsInRenderingThread());
	const int32 Count = FMath::Min(Freed, Pending.Num());
	for (int32 Index = 0; Index < Count; ++Index)
	{
		TPair<uint64, FSDBridgeDepictedFrame>& Entry = Pending[Index];
		if (SubmittedFrameId != 0 && Entry.Key == SubmittedCaptureTimeUs)
		{
			Cameras.Record(SubmittedFrameId, Entry.Value.Camera);
			Frames.Add(SubmittedFrameId, MoveTemp(Entry.Value));
		}
	}
	Pending.RemoveAt(0, Count);
	// Keep exactly the frame ids the core's bounded history still holds (it dropped the oldest).
	for (auto It = Frames.CreateIterator(); It; ++It)
	{
		if (!Cameras.Find(It.Key()).has_value())
		{
			It.RemoveCurrent();
		}
	}
}

const FSDBridgeDepictedFrame* FSDBridgeFrameHistory::Find(uint64 FrameId) const
{
	check(IsInRenderingThread());
	return Cameras.Find(FrameId).has_value() ? Frames.Find(FrameId) : nullptr;
}

void FSDBridgeFrameHistory::Reset()
{
	Pending.Reset();
	Cameras.Clear();
	Frames.Reset();
}
